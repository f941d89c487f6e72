"""A folder through one model: the job and its validation (`job`), which files and where each output goes
(`selection`), one file prepared, run and saved (`one_file`), the run over all files (`runner`), the
report (`report`) and the output folder's lock (`folder_lock`)."""
