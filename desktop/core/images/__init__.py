"""Images as float arrays: reading and writing files, fitting an image to a model's input (`files`), the
project's noise (`noise`) and the quality metrics (`metrics`)."""
