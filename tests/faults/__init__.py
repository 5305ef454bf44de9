"""The fault suite (issue 15): a hostile user and a flaky machine.

Each module takes one side: ``test_outputs`` (outputs checked before the work, read-only and
full file systems, results kept when the final write fails, one I/O error type),
``test_inputs`` (special files, garbage arrays, malicious pickles and YAML tags, names that
carry markup or control characters, usage errors), ``test_models`` (weights that are no
checkpoint, ``pkg:`` escapes, ``@random`` seeds, offline without the offline variables),
``test_cache`` (corrupted chunks, two writers, kill -9 resume). Cases covered in depth
elsewhere keep their tests there: kill -9 and Ctrl-C resume (tests/extract/test_extract_resume.py),
checksum and size mismatches, interrupted downloads and zip-slip (tests/data/test_fetch.py).
"""
