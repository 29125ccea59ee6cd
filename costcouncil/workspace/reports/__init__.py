"""Reports from the lake for the command line: status, report by any key, FOCUS export."""
