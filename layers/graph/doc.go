// Package graph is the graph-network family of the framework in package
// layers, on the bipartite constraint–variable graphs of linear programs.
//
//   - SplitBipartite reads a batch of flat LP rows into edge weights and
//     the two sides' features (BipartiteLayout).
//   - BipartiteAggregate sums messages along the edges, in either
//     direction, with work proportional to the edges.
//   - BipartiteConv and PartsDense: the graph convolutions and the dense
//     layer on concatenated parts that build the explicit network.
//   - GNNCell: the implicit network's operator, one scalar of state per
//     variable, with hand-written kernels.
//
// Constructors take the scope the parameters live in (NewGNNCell(s, …)).
package graph
