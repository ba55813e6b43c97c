//! Small neural networks: MLPs, training, and the quantized forward pass.
