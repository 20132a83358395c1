//! Name, label and annotation syntax checks with upstream messages.
