module github.com/warmcgi/warmcgi/benchmarks/static

go 1.26
