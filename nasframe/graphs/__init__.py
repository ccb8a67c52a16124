"""Computational graphs: any ``nn.Module`` as a graph of primitive operations (torch.fx)."""
from nasframe.graphs.cache import GraphCache, build_graph
from nasframe.graphs.extract import ComputeGraph, extract, module_op
from nasframe.graphs.vocab import OPS, WEIGHTED

__all__ = ["ComputeGraph", "extract", "module_op", "GraphCache", "build_graph", "OPS", "WEIGHTED"]
