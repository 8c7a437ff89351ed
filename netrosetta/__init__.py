"""netrosetta: the same network servers written three ways, and the tools to compare them."""
