"""The packaged presets (TOML files beside this one); installed as live.presets."""
