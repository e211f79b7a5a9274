// Catch2's main() for e2e_server_tests (its own file: it compiles slowly).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
