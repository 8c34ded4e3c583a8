# cmake/cuda.cmake — the CUDA libraries vramfit uses: cudart, cuBLASLt (CUDAToolkit), cuDNN 9.
# cuDNN lives in different places on different machines (the toolkit's lib64, the system's
# multiarch folder, a pip wheel); search them all, no hints needed.
find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_ROOT}/include
  PATHS /usr/include /usr/include/x86_64-linux-gnu /usr/local/cuda/include)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
  HINTS ${CUDAToolkit_LIBRARY_DIR}
  PATHS /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64 /usr/lib64)
if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  message(FATAL_ERROR "VRAMFIT_CUDA=ON needs cuDNN 9 (cudnn.h and libcudnn). Install it or configure with -DVRAMFIT_CUDA=OFF.")
endif()
add_library(vramfit_cudnn INTERFACE)
target_include_directories(vramfit_cudnn SYSTEM INTERFACE ${CUDNN_INCLUDE_DIR})
target_link_libraries(vramfit_cudnn INTERFACE ${CUDNN_LIBRARY})
message(STATUS "vramfit: cuDNN ${CUDNN_LIBRARY} (headers ${CUDNN_INCLUDE_DIR}); CUDA archs ${CMAKE_CUDA_ARCHITECTURES}")
