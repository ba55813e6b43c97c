//! Quantizers, calibration, bit packing and GGUF block formats shared by every study.
