// Unit tests of radiald's server code that need no running daemon (label
// unit): the OpenAI API's translation layer.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
