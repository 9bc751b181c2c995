"""Reports built from the hub's records (issue 12): the annual 知识产权保护与发展状况报告."""
