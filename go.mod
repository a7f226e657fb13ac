module github.com/warmcgi/warmcgi

go 1.26.8
