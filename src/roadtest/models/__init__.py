"""Models of roadtest: baselines on the vehicle table, GRU/LSTM on event sequences.

No I/O here: models take arrays and give back arrays or bytes. Importing the
package loads only numpy: torch lives in ``roadtest.models.recurrent`` (training
and export) and ONNX Runtime in ``roadtest.models.onnx_scorer`` (serving), so
the API can score without torch.
"""

from roadtest.models.inputs import SequenceInputs, TabularInputs, check_labels

__all__ = ["SequenceInputs", "TabularInputs", "check_labels"]
