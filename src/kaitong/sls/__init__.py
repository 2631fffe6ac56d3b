"""The exclusive edition's storage: the buyer's own Log Service (SLS), reached with the buyer's grant
(a role the buyer authorised, or a RAM user's AccessKey), one SLS project per exclusive workspace."""
