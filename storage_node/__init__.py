"""The storage node: stores pieces on the operator's disk and serves them under satellite orders."""
