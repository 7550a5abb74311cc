"""RFID readers: sans-IO protocol codecs, the burst estimator and the transport glue."""
