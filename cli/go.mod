module m3o.dev/cli

go 1.26

replace (
	m3o.dev/pkg => ../pkg
	m3o.dev/proto => ../proto
	m3o.dev/services => ../services
)
