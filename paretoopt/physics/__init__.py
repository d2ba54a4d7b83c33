"""Differentiable physics building blocks, in the order data flows: source (muons, beams) ->
geometry and materials -> interactions (scattering, showers) -> detector response ->
reconstruction -> figures of merit and cost."""
