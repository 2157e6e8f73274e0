"""Run the program under Pulumi's mock engine: plan, render and graph."""
