"""Reading: a picture moves down the stages once, each the owner of its step.

``images`` (decode) -> ``ink`` (polarity, paper, the mask and its marks) -> ``layout`` (marks,
lines of writing, candidate digits) -> ``inputs`` (each candidate's 28x28, the verifier's
context, the pair reader's input) -> ``evidence`` (the networks, batched) -> ``scoring`` (how
each line divides into digits) -> ``results`` (the reading). ``pipeline`` runs the stages up to
the inputs, for reading and for fitting alike; ``recognizer`` composes it with the rest.
"""
