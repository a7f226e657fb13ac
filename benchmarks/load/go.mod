module github.com/warmcgi/warmcgi/benchmarks/load

go 1.26
