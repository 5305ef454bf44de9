"""One module per library (timm, open_clip, transformers, sentence-transformers), each defining
a :class:`~infogauss_cli.models.registry.Backend`; the libraries are imported only when an entry
is built."""
