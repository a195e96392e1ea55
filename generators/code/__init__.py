"""Code capability: translation, backtranslation, execution-feedback self-correction."""
