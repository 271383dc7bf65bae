"""Code every Sangam step shares: the validated sources.yaml configuration and secrets from the env."""

from sangam.config import ConfigError, SangamConfig, load_config, secret

__all__ = ["ConfigError", "SangamConfig", "load_config", "secret"]
