# Xen transport: the only files besides the programs that include Xen headers.
