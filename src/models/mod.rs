//! Layer inventories: synthetic model families and imported tensors.
