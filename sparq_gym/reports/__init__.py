"""Reports: every table, figure and benchmark page the product writes."""
