"""The TensorFlow engines: ``tape`` (tf.GradientTape loop) and ``fit`` (Keras model.fit)."""
