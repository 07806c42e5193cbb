"""``bplab explore``: one offline page that steps through forward and backward propagation with real numbers."""
