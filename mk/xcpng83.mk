# XCP-ng 8.3 checks (docs/xcpng83.md), included from the top-level Makefile.
#   make check-xcpng83  build and test against json-c 0.14, libxml2 2.9.1,
#                       pciutils 3.5.1 (../shared/xcpng83), glibc 2.17 /
#                       gcc 4.8.5 / sqlite 3.7.17 checks
#   make check-rpm      rpmbuild -bb rpm/gpupool.spec, check the file list
.PHONY: check-xcpng83 check-rpm

check-xcpng83:
	tests/xcpng83/run

check-rpm:
	tests/rpm/run
