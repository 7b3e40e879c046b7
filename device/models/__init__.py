"""Everything a model needs before it runs: signed bundles and the model store, the
landmark model cache, the inference runtimes registry, the classifier and its
class-activation map."""
