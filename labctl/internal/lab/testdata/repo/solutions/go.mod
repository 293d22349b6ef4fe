module example.com/fixture/solutions

go 1.26
