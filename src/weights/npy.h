// weights/npy.h — NumPy .npy files for model inputs and outputs (`--input FILE.npy`,
// `--save-output FILE.npy`).
//
// Format: numpy.lib.format ("A Simple File Format for NumPy Arrays", NEP 1): the magic "\x93NUMPY",
// a major/minor version (1.0: 2-byte header length; 2.0 and 3.0: 4-byte; 3.0 allows UTF-8), then an
// ASCII Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and a newline, then the raw elements.
//
// In:  a file or buffer holding a little-endian float32 ('<f4') or float16 ('<f2') array, C or
//      Fortran order, any rank (rank 0 is a scalar).
// Out: an fp32 Tensor in row-major (C) order. Everything is bounds-checked; a bad file is an
//      InvalidInput naming the file, the byte offset or header field, and what was expected; a valid
//      file of another dtype is Unsupported naming the dtype.
// Writing produces '<f4', version 1.0 (2.0 when the header would not fit 1.0's 16-bit length).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vramfit {

Tensor read_npy(const std::string& path);
// Parse from memory (tests, fuzzing); `label` names the buffer in errors.
Tensor parse_npy(std::span<const std::uint8_t> bytes, const std::string& label);

std::vector<std::uint8_t> encode_npy(const Tensor& t);
// Written to a temporary name and renamed, so a crash never leaves half a file.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace vramfit
