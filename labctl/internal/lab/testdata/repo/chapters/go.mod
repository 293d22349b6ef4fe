module example.com/fixture/chapters

go 1.26
