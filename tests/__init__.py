"""attn_widget's tests: pytest (unit, extraction, export), browser tests, golden wire buffers."""
