"""Reference policies of every family, by name (:mod:`agents.references.registry`)."""
