"""BigGAN-deep generator: weights, inference graph and backends. Knows nothing about audio."""
