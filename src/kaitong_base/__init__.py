"""What the vendor (``kaitong``) and the marketplace simulator (``kaitong_sim``) both stand on.

Generic infrastructure only: no Alibaba protocol and no business rule lives here, so that the two
sides stay separate models of the two parties and a bug in one cannot hide in code the other shares.
"""
