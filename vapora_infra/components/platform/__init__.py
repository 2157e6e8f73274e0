"""The cluster add-ons: one component per add-on, composed by ``Platform``."""
