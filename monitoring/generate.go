package monitoring

//go:generate go run ./gen -dir .
