"""Repository reasoning: import graphs of real repositories and the tasks built on them."""
