"""Images as float arrays: reading and writing files (`files`), fitting an image to a model's input
(`fitting`), the project's noise (`noise`) and the quality metrics (`metrics`)."""
