"""ETL: pure bronze → warehouse transforms and the jobs that run them."""
