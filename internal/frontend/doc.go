// Package frontend owns how requests reach warmcgi: the listeners (TCP,
// and unix: sockets with their mode, owner and stale-socket removal), the
// connection limit, the FastCGI server that turns a front end's requests
// (nginx, Apache mod_proxy_fcgi) into the ones the HTTP listener hands to
// cgienv.Handler, and the static files served beside the scripts (Static,
// routed by Site: serve --static, warmcgi http). It imports the standard
// library and cgienv only.
package frontend
