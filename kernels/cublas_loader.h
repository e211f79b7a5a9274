// cuBLAS is loaded at run time (dlopen), not linked: see cublas_loader.cpp
// for why. The CUDA backend calls cuBLAS through <cublas_v2.h> as usual;
// cublas_loader.cpp defines the entry points it uses.
#pragma once

#include <string>

namespace radial::kernels {

// Why cuBLAS could not be loaded ("" when it was, or before the first call).
std::string cublas_load_error();

}  // namespace radial::kernels
