//! Every Connect schema type crosses the boundary both ways without loss (being written).
