"""Camera line-crossing sensor: frame source, detector and test-footage renderer."""
