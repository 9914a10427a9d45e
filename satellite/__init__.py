"""satellite"""
