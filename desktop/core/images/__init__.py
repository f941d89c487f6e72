"""Images as float arrays: reading and writing files (`files`), what a file carries into its outputs (ICC
profile, EXIF, XMP, bit depth: `carried`), 16-bit colour files Pillow cannot hold (`sixteen_bit`), fitting an
image to a model's input (`fitting`), the project's noise (`noise`) and the quality metrics (`metrics`)."""
