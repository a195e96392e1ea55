"""The data-processing stage between selection and export: clean, topics, quality, difficulty, dedup, mix.

See :mod:`synthgen.processing.stage` for how steps run, store their decisions and resume, and each
processor's module for what it does and its defaults.
"""

from synthgen.processing.run import export_processed, process_run, records_for_export, run_with_processing
from synthgen.processing.stage import ProcessContext, ProcessingStage, dropped_records, processed_records

__all__ = ["ProcessContext", "ProcessingStage", "dropped_records", "export_processed", "process_run",
           "processed_records", "records_for_export", "run_with_processing"]
